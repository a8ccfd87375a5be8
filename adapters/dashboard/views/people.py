"""The people page's script, run by st.navigation."""

from adapters.dashboard.people import show

show()
