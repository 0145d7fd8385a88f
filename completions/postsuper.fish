complete -c postsuper -s c -d 'Use the Postfix configuration in this directory (an absolute path)' -r -f -a "(__fish_complete_directories)"
complete -c postsuper -s d -d 'Delete the message with this queue ID, ALL messages, or the IDs read from stdin (-)' -r -f
complete -c postsuper -s e -d 'Force the message to expire: it is returned to the sender at its next delivery attempt' -r -f
complete -c postsuper -s f -d 'Force the message to expire, and release it if it is on hold' -r -f
complete -c postsuper -s h -d 'Put the message on hold: no delivery attempts until it is released' -r -f
complete -c postsuper -s H -d 'Release the message from hold' -r -f
complete -c postsuper -s r -d 'Requeue the message: run it through pickup and cleanup again' -r -f
complete -c postsuper -l sender -d 'Select messages whose envelope sender matches the regular expression' -r -f
complete -c postsuper -l recipient -d 'Select messages with a recipient still to be delivered that matches the regular expression' -r -f
complete -c postsuper -l domain -d 'Select messages with a recipient still to be delivered in this domain or a subdomain' -r -f -a "(__fish_print_hostnames)"
complete -c postsuper -l older-than -d 'Select messages that arrived at least this long ago (90m, 3d, 1h30m)' -r -f
complete -c postsuper -l newer-than -d 'Select messages that arrived at most this long ago (90m, 3d, 1h30m)' -r -f
complete -c postsuper -l min-size -d 'Select messages of at least this many bytes (k, M, G suffixes)' -r -f
complete -c postsuper -l max-size -d 'Select messages of at most this many bytes (k, M, G suffixes)' -r -f
complete -c postsuper -l reason -d 'Select messages with a recipient whose deferral reason matches the regular expression' -r -f
complete -c postsuper -l header -d 'Select messages with a header line that matches the regular expression' -r -f
complete -c postsuper -l format -d 'What to print for each message acted on: text or json' -r -f -a "text\t'Postfix\'s messages (the default)'
json\t'one JSON object per message acted on'"
complete -c postsuper -s p -d 'Purge temporary files left behind by Postfix processes that crashed'
complete -c postsuper -s s -d 'Check and repair the queue\'s structure (the default with no action given)'
complete -c postsuper -s S -d 'As -s, and also check long queue IDs against their inode numbers'
complete -c postsuper -s v -d 'Verbose: accepted, without Postfix\'s debugging output'
complete -c postsuper -l dry-run -d 'Change nothing: list the queue IDs an action would touch, and count them'
complete -c postsuper -l all-instances -d 'With --dry-run: list each Postfix instance (the default and multi_instance_directories)'
complete -c postsuper -a 'maildrop' -d 'mail submitted on this host, waiting for pickup'
complete -c postsuper -a 'incoming' -d 'mail waiting for the queue manager'
complete -c postsuper -a 'active' -d 'mail the queue manager is delivering'
complete -c postsuper -a 'deferred' -d 'mail waiting for another delivery attempt'
complete -c postsuper -a 'hold' -d 'mail on hold'
complete -c postsuper -a 'trace' -d 'per-message delivery reports that were asked for'
complete -c postsuper -a 'defer' -d 'per-message logs of deferral reasons'
complete -c postsuper -a 'bounce' -d 'per-message logs of failed recipients'
complete -c postsuper -a 'flush' -d 'fast flush logs, one per destination'
