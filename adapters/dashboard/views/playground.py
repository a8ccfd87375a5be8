"""The playground page's script, run by st.navigation."""

from adapters.dashboard.playground import show

show()
