"""The HTTP pages, one blueprint each: `main` (lobby, chat page, leaderboard, health),
`studies` (organisers' judging sessions), `admin` (the researchers' export)."""
