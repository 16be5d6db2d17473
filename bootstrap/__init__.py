"""The bootstrap program (Pulumi project ``flowbuilder-bootstrap``): run once per AWS account."""
