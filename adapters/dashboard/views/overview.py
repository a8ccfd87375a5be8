"""The overview page's script, run by st.navigation."""

from adapters.dashboard.charts import show

show()
