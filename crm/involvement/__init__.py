"""Involvement (issue 18): opportunities for people with lived experience, the lived experience network, researchers'
consultation requests to involvement groups, and the record of involvement. See docs/involvement.md."""
