"""Adjudication and QA audits arrive with the review issue; the lead's views read from
labeling and supportability for now."""
