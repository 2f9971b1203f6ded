"""How long a free text may be: one place for every form's limit.

A form field checks the limit on the server (max_length, the message "Ensure
this value has at most N characters"); the browser shows a counter beside
every text area (static/js/counter.js). The limits are generous for what each
text is for: an area's goal or commitment is a paragraph or a few, not a report.
"""

TITLE_MAX = 300  # an agreement's or an area's title
AREA_TEXT_MAX = 4000  # an area's goal, and what each party commits to
CONTACTS_MAX = 1000  # an area's contact persons, one per line
COMMENT_MAX = 5000  # a review comment, a follow-up review comment
REASON_MAX = 5000  # why an agreement is withdrawn
NARRATIVE_MAX = 5000  # how an area is going (follow-up report)
MINUTES_MAX = 20000  # a dialogue meeting's minutes
ACTION_POINT_MAX = 2000  # what is to be done
SHORT_REASON_MAX = 1000  # why a due date or an action point's status changes
