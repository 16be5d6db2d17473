"""The flowbuilder policy pack (``policy/``) and its offline runner (:mod:`policy.offline`)."""
