"""Follow-up calls after a report (回访): the rating and comment, and the review a low one
opens (docs/followup.md)."""
