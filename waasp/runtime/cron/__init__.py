"""Cron: schedules (crontab, intervals), beat entries, and the exactly-once scheduler."""
