"""Ports the program opens, listens on or connects to, named once."""

HTTP_PORT = 80
HTTPS_PORT = 443
"""TLS: the load balancer's HTTPS listener, and every call to AWS APIs, ECR and the internet."""
POSTGRES_PORT = 5432
"""PostgreSQL: RDS in standard stacks, the external database in zero-scale."""
VALKEY_PORT = 6379
"""Valkey: the ElastiCache cache's primary endpoint, serverless and node alike."""
