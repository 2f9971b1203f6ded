import factory

from accounts import services
from accounts.models import Organisation, Role, User

PASSWORD = "correct-horse-battery-staple"


def region():
    return Organisation.objects.get(kind=Organisation.Kind.REGION)


def municipality(name_or_code):
    """One of the 15 municipalities loaded by the reference-data migration."""
    if name_or_code.isdigit():
        return Organisation.objects.get(kommunkod=name_or_code)
    return Organisation.objects.get(kind=Organisation.Kind.MUNICIPALITY, name=name_or_code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.se")
    full_name = factory.Faker("name", locale="sv_SE")
    title = "Handläggare"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory:
    """Memberships go through the service, so that groups and guardian
    permissions are derived exactly as in production."""

    @staticmethod
    def create(*, user, organisation, role):
        return services.membership_create(actor=None, user=user, organisation=organisation, role=role)


def user_with_role(role, organisation=None, **user_kwargs):
    """A user holding ``role`` in ``organisation`` (the region for region roles)."""
    role = Role(role)
    if organisation is None:
        organisation = region()
    elif isinstance(organisation, str):
        organisation = municipality(organisation)
    user = UserFactory(**user_kwargs)
    MembershipFactory.create(user=user, organisation=organisation, role=role)
    return User.objects.get(pk=user.pk)
