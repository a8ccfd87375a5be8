"""The Streamlit dashboard (`tertulia dashboard`): charts, people, a playground, dataset export."""
