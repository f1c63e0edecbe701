"""What games leave behind in SQL: `transcripts` (games and messages), `verdicts` (and
reports), `studies` (organisers' private judging sessions)."""
