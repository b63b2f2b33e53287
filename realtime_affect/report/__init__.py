"""``affect-report``: a picture of a whole annotated video at a glance (PNG or self-contained HTML)."""
