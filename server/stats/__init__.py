"""The leaderboard's numbers, computed from the verdicts in SQL (`leaderboard`)."""
