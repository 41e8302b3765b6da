/** The environment variable through which a region host hands a worker its short-lived credentials. */
export const CREDENTIALS_VAR = 'TAVIO_ENVIRONMENT_CREDENTIALS';
