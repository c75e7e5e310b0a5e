"""Privacy tools (UK GDPR): subject-access export, erasure, retention, hashed suppressions."""
