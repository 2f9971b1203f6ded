"""Views of the workflows app. ``steps`` holds the step views that the flow
names (imported by flows.py); ``pages`` the inbox, lists and agreement pages and
``dispatch`` the entry point that locks and checks a step before its view runs."""
