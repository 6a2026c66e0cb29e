"""incident_report: opens an incident once per alert, summarises it, mails a report, records MTTR on resolve."""
