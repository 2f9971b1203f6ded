"""Swedish alphabetical order, for lists sorted in Python."""


def swedish_key(text: str) -> str:
    """Sort key in Swedish alphabetical order (å, ä, ö after z), whatever the database's collation."""
    return (text or "").lower().translate(str.maketrans({"å": "{", "ä": "|", "ö": "}", "é": "e", "ü": "y"}))
