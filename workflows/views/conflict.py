"""The page of a step or action that cannot be taken now: 409, with what
happened (someone else was first, the agreement has moved on) and a way back."""

from django.shortcuts import render


def conflict(request, agreement, message, *, status=409):
    return render(request, "workflows/conflict.html", {"agreement": agreement, "message": message}, status=status)
