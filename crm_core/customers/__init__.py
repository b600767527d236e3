"""Customers: facts as of a date, RFM scores, segment schemes, tags and the overview KPIs."""
