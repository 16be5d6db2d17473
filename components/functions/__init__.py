"""Source of the small Lambda functions the components deploy as inline zip code."""
