/**
 * Tests, scenarios and the demo send everything from 127.0.0.1: per-client-address budgets sized for one
 * office would trip across a test file. The rate-limit tests set their own.
 */
export const PER_ADDRESS_LIMITS_FOR_ONE_HOST = {
  RATE_LIMIT_LOGIN_CODES_PER_IP: '100000/60',
  RATE_LIMIT_SSO_STARTS_PER_IP: '100000/60',
};
