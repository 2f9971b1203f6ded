"""Views of the workflows app. ``steps`` holds the step views that the flow
names (imported by flows.py), which workflows.nodes wraps; ``pages`` the
inbox, lists and agreement pages; the others the pages of renewal, meetings,
the county overview and the audit trail."""
