"""alert_webhook: Receives Alertmanager's webhook, mails the alert at once and emits one CloudEvent per alert."""
