from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def paginate(*, queryset, request, view, serializer_class, context=None):
    """Paginate `queryset` for an APIView and serialize the page: {"count", "next", "previous", "results"}."""
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {"request": request}).data
    return paginator.get_paginated_response(data)


def paginated_schema(serializer_class, *, name: str):
    """A serializer describing one page of `serializer_class` items, for the OpenAPI schema of an APIView."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )
