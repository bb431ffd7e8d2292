/** Queue names of the email domain (the names seed 001 uses, so its monitoring SQL finds them). */
export const WEBHOOK_QUEUE = 'nylas_webhook_notifications';
