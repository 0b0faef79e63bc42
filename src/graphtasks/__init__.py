"""graphtasks: a self-hostable Microsoft Graph beta server for Intune deviceAppManagementTasks."""

__version__ = "0.1.0"
