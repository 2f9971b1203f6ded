"""The search page: one form field, the results of cases.search (scoped to the user there)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from cases.search.forms import SearchForm
from cases.search.selectors import Results, search


@login_required
def search_page(request):
    form = SearchForm(request.GET)
    if form.is_valid():
        results = search(request.user, form.cleaned_data["q"])
        status = 200
    else:
        results, status = Results(text=""), 400
    return render(request, "workflows/search.html", {"form": form, "results": results}, status=status)
