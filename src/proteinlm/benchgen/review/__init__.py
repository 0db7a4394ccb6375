"""Expert review of generated questions and the export of the reviewed bench.

questions.py reads what is reviewed (a from-papers run dir or any bench file), store.py keeps every
decision in SQLite, app.py / views.py / templates/ / static/ are the web pages, server.py serves
them, agreement.py says where the review stands, export.py and report.py write the result.
"""
