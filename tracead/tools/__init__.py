"""User-facing tools: explain (explain.py, with explain_text, pass_changes,
fusion_report, memory_view, pictures, report_html), profile (profile.py,
bandwidth.py)."""
