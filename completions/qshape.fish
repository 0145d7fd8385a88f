complete -c qshape -s m -d 'With -p: the fewest subdomains a parent domain row needs (default 5)' -r -f
complete -c qshape -s b -d 'Number of age columns (default 10)' -r -f
complete -c qshape -s t -d 'Width in minutes of the first age column (default 5); each next column doubles' -r -f
complete -c qshape -s w -d 'Width of the table, when wider than 80 columns' -r -f
complete -c qshape -s N -d 'At a terminal: redraw the table every this many messages (default 1000)' -r -f
complete -c qshape -s n -d 'At a terminal: how many domains the interim tables show (default 20)' -r -f
complete -c qshape -s c -d 'Use the Postfix instance whose configuration is in this directory' -r -f -a "(__fish_complete_directories)"
complete -c qshape -l format -d 'Output format: text, json or prometheus' -r -f -a "text\t'qshape\'s table (the default)'
json\t'one JSON document'
prometheus\t'Prometheus text exposition format, for node_exporter'"
complete -c qshape -l output -d 'Write the report to this file atomically instead of standard output' -r -F
complete -c qshape -l top -d 'json and prometheus: keep the N largest domains, add up the rest as other' -r -f
complete -c qshape -s s -d 'Count sender domains instead of recipient domains'
complete -c qshape -s p -d 'Add rows for parent domains (.example.com) that have enough subdomains'
complete -c qshape -s l -d 'Linear age columns: each covers bucket_time minutes'
complete -c qshape -s h -d 'Print the usage text and exit'
complete -c qshape -l per-message -d 'Count each message once per domain, instead of each recipient'
complete -c qshape -l all-instances -d 'Report on the default Postfix instance and every multi_instance_directories entry'
complete -c qshape -l help -d 'Print a summary of the extensions and exit'
complete -c qshape -a 'maildrop' -d 'mail submitted on this host, waiting for pickup'
complete -c qshape -a 'incoming' -d 'mail waiting for the queue manager'
complete -c qshape -a 'active' -d 'mail the queue manager is delivering'
complete -c qshape -a 'deferred' -d 'mail waiting for another delivery attempt'
complete -c qshape -a 'hold' -d 'mail on hold'
