"""The admin's small kit, shared by every domain's views: forms, custom pages."""
