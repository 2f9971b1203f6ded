"""The application's URLs plus viewflow's stock frontend for AgreementFlow at
/stock/, for the benchmark only (bench/settings.py): its queue, archive,
process list and process page on the same data as ours.

The application switches off the stock views of its human steps
(workflows/nodes.py: our own step view claims, locks and completes a task in
one transaction), but the stock lists link every task to its stock page, so in
this bench-only URL configuration the steps get viewflow's stock task page and
task detail back. Nothing the application serves changes: its own pages never
use the flow's URLs."""

from django.urls import path
from viewflow.urls import Site
from viewflow.workflow.flow import FlowAppViewset
from viewflow.workflow.flow import nodes as stock_nodes

from config.urls import urlpatterns as application
from workflows.flows import AgreementFlow
from workflows.nodes import AgreementStep

AgreementStep.index_view_class = stock_nodes.View.index_view_class
AgreementStep.detail_view_class = stock_nodes.View.detail_view_class

site = Site(title="Stock viewflow", viewsets=[FlowAppViewset(AgreementFlow, icon="assignment")])

urlpatterns = [path("stock/", site.urls), *application]
