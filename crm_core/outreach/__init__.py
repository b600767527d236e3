"""Outreach: audiences and their contact policy, trigger lists, privacy masking, exports."""
