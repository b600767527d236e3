"""Voice of the customer and service levels: NPS and CSAT of survey answers
(`nps`), verbatims and their words (`verbatims`), service tickets against an SLA policy
(`sla`, `service`)."""
