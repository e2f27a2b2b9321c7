"""Distribution: guides, promoters, share links, attribution, commission (issue 3)."""
