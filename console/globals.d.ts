// The graphql-ws browser client, loaded by index.html from its UMD build as the global `graphqlWs`.
declare const graphqlWs: typeof import('graphql-ws');
