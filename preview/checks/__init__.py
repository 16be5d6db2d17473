"""What would fail before or during ``pulumi up``.

Preflight rules, policy documents, Kubernetes schemas, and the policy pack's verdict.
"""
