"""Identity and security: who is calling, what they may do, and the record of it."""
