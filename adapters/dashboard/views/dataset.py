"""The dataset page's script, run by st.navigation."""

from adapters.dashboard.tuning import show

show()
