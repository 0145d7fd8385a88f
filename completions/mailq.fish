complete -c mailq -s b -d 'Mode of operation; mailq lists the queue (-bp) unless told otherwise' -r -f -a "p\t'list the queue (mailq\'s default)'
i\t'rebuild the alias database, like newaliases'
m\t'read a message from standard input and send it'
d\t'start the mail system'
l\t'start the mail system (as d)'
s\t'speak SMTP on standard input and output'
v\t'in delivery mode: verify the recipients and mail a report instead'
h\t'no effect (Sendmail\'s host status)'
H\t'no effect (Sendmail\'s host status)'"
complete -c mailq -s C -d 'Use the Postfix configuration in this directory (or this main.cf)' -r -F
complete -c mailq -s q -d 'Without a value: ask Postfix to deliver all queued mail now (postqueue -f)' -r -f
complete -c mailq -s A -d 'No effect (Sendmail\'s -Am and -Ac)' -r -f
complete -c mailq -s B -d 'Body type of the message: 7BIT or 8BITMIME' -r -f -a "7BIT\t''
8BITMIME\t''"
complete -c mailq -s F -d 'The sender\'s full name, for a message without a From: header' -r -f
complete -c mailq -s L -d 'No effect (Sendmail\'s logging label; see syslog_name)' -r -f
complete -c mailq -s N -d 'Delivery status notifications: never, or a list of success, failure, delay' -r -f
complete -c mailq -s O -d 'No effect (Sendmail option; use main.cf)' -r -f
complete -c mailq -s R -d 'What a bounce returns of the message: full or hdrs' -r -f -a "full\t''
hdrs\t''"
complete -c mailq -s V -d 'Envelope ID for delivery status notifications' -r -f
complete -c mailq -s X -d 'Only -XV[xy]: personalised envelope senders (VERP)' -r -f
complete -c mailq -s e -d 'No effect (Sendmail\'s error mode)' -r -f
complete -c mailq -s f -d 'Envelope sender address of the message sent' -r -f
complete -c mailq -s h -d 'No effect (see hopcount_limit)' -r -f
complete -c mailq -s o -d 'Sendmail -o settings: -oi as -i, -oAfile for the alias database, others ignored' -r -f
complete -c mailq -s p -d 'No effect (Sendmail compatibility)' -r -f
complete -c mailq -s r -d 'Old name of -f' -r -f
complete -c mailq -s v -d 'Verbose: passed on to postqueue, which accepts it without output'
complete -c mailq -s G -d 'Gateway (relay) submission rather than a user\'s first submission'
complete -c mailq -s I -d 'Rebuild the alias database, like newaliases'
complete -c mailq -s U -d 'No effect (Sendmail\'s initial user submission)'
complete -c mailq -s c -d 'No effect (Sendmail compatibility)'
complete -c mailq -s i -d 'A line with a single dot does not end the message'
complete -c mailq -s m -d 'No effect (Sendmail compatibility)'
complete -c mailq -s n -d 'Not supported: an error, as with Postfix\'s sendmail'
complete -c mailq -s t -d 'Take the recipients from the message headers (delivery mode only)'
complete -c mailq -s x -d 'No effect (Sendmail compatibility)'
