"""Weekly summaries: the schedule, the digest and personal summaries with tips, and outbox delivery (issue #6)."""
