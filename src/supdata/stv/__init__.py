"""Self-trained verification (STV): informed-verifier targets and verifier-in-the-loop rows."""
