"""Overseerr and Jellyseerr for MediaNest: requests made as the person who asks."""
