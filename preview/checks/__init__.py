"""What would fail before or during ``pulumi up``: preflight rules, policy documents, Kubernetes schemas, the policy pack."""
