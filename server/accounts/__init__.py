"""Users, roles, tokens and who may do what."""
