// Signing material for simulated IdPs: a fresh RSA key and a self-signed X.509 certificate per tenant (and
// per rotation), made the way an admin console makes them, so the service provider sees real certificates.
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface SigningKey {
  privateKeyPem: string;
  certificatePem: string;
  /** Base64 DER, as it appears in metadata and in ds:X509Certificate. */
  certificateBase64: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateValidity {
  notBefore?: Date;
  notAfter?: Date;
}

const HOUR_MS = 60 * 60 * 1000;
const YEAR_MS = 365 * 24 * HOUR_MS;

async function generateRsaKeyPair(): Promise<forge.pki.rsa.KeyPair> {
  // forge hands 2048-bit generation to node's native crypto when it can (about 0.1 s instead of seconds),
  // and the asynchronous form keeps the event loop free while several tenants are created.
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }, (err, keypair) => {
      if (err) reject(err);
      else resolve(keypair);
    });
  });
}

export function pemToBase64(pem: string): string {
  return pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
}

export async function generateSigningKey(
  commonName: string,
  validity: CertificateValidity = {},
): Promise<SigningKey> {
  const keys = await generateRsaKeyPair();
  const now = Date.now();
  // An hour of back-dating, like real IdP consoles, so a verifier whose clock is slightly behind still
  // accepts a certificate that was created a moment ago.
  const notBefore = validity.notBefore ?? new Date(now - HOUR_MS);
  const notAfter = validity.notAfter ?? new Date(now + YEAR_MS);

  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // A positive serial (leading byte below 0x80), as DER INTEGER rules and strict parsers want.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [
    { name: 'commonName', value: commonName.slice(0, 64) },
    { name: 'organizationName', value: 'Console Identity IdP Simulator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());

  const certificatePem = forge.pki.certificateToPem(cert);
  return {
    privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey),
    certificatePem,
    certificateBase64: pemToBase64(certificatePem),
    notBefore,
    notAfter,
  };
}
