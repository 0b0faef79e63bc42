"""OData conventions that are independent of storage and HTTP frameworks: query options and paging."""
