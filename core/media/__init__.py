"""The catalogue as the media API reads it: items with their admin overrides, details with
children and other sources' copies, recently added, browsing, and the overrides themselves."""
